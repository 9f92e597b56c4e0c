DROP TABLE agency_features;
