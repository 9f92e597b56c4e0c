-- Reverts 0011. Conflicts are dropped; channel blocks lose their UIDs (and any that exist would
-- break the kind/channel rule of 0009 no further: kind and channel_connection_id stay).
DROP TABLE channel_conflicts;

ALTER TABLE blocks
    DROP CONSTRAINT blocks_connection_uid_key,
    DROP CONSTRAINT blocks_channel_uid,
    DROP COLUMN external_uid;

DROP POLICY channel_connections_worker ON channel_connections;
DROP INDEX channel_connections_due_idx;
ALTER TABLE channel_connections
    DROP CONSTRAINT channel_connections_export_token_key,
    DROP COLUMN sync_locked_until,
    DROP COLUMN next_sync_at,
    DROP COLUMN feed_last_modified,
    DROP COLUMN feed_etag,
    DROP COLUMN imported_events,
    DROP COLUMN last_error,
    DROP COLUMN last_sync_status,
    DROP COLUMN sync_interval_minutes,
    DROP COLUMN export_token;
DROP FUNCTION new_export_token();
