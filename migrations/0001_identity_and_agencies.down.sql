DROP TABLE team_members;
DROP TABLE agencies;
DROP TABLE auth.users;
DROP SCHEMA auth;
DROP FUNCTION app_user_id();
DROP FUNCTION app_agency_id();
DROP EXTENSION IF EXISTS btree_gist;
