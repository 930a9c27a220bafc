-- Marathon's HTTP callback subscriptions (/v2/eventSubscriptions): every
-- event of /v2/events is POSTed to each callback_url by the leading
-- services instance. client_ip is the address the subscription came
-- from, as the subscribe_event showed it.
CREATE TABLE services.event_subscriptions (
    callback_url text PRIMARY KEY,
    client_ip    text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
