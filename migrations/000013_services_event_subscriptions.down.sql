DROP TABLE services.event_subscriptions;
