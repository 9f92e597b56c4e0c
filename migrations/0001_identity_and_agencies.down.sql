-- agencies_member_read reads team_members, so it goes first: DROP TABLE team_members would refuse otherwise.
DROP POLICY agencies_member_read ON agencies;
DROP TABLE team_members;
DROP TABLE agencies;
DROP TABLE auth.users;
DROP SCHEMA auth;
DROP FUNCTION app_user_id();
DROP FUNCTION app_agency_id();
DROP EXTENSION IF EXISTS btree_gist;
