DROP TABLE bookings;
DROP TABLE properties;
