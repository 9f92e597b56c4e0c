DROP TABLE channel_connections;
