-- agencies_invitee_read reads invitations, so it goes first.
DROP POLICY agencies_invitee_read ON agencies;
DROP TABLE invitations;
DROP FUNCTION app_user_email();
