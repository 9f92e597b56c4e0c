DROP TABLE auth.platform_operators;
