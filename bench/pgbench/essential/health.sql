-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): (here: no transaction, no settings) the bare SELECT 1. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../health.sql (the statements the endpoint runs today).
SELECT 1;
