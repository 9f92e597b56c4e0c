-- Reverts 0009_webhooks. Drops every endpoint, event and delivery.
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
