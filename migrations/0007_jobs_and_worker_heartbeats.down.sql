DROP TABLE worker_heartbeats;
DROP TABLE jobs;
