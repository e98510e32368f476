-- Billing on PostgreSQL (SQLite's 0010_billing.sql; issue 15,
-- docs/FLEET.md): each organization's customer at the payment provider,
-- the latest known state of its subscription and invoices, and the
-- webhook events already handled. Like orgs (0005) these are not tenant
-- rows: the daemon's own role reads and writes them across
-- organizations (a webhook names a customer, not an organization), so
-- no row-level security and no grant to agora_tenant.
--
-- orgs.custom_domain arrived with 0005. SQLite's code refuses a domain
-- another organization has (a check, then the write, under its single
-- writer's lock); here several nodes write at once, so the index says
-- it: a second node setting the same domain waits for the first's
-- commit, then fails the index (agora_db answers false).
CREATE UNIQUE INDEX orgs_by_custom_domain ON orgs (custom_domain);

-- One customer at the provider per organization (made at the first
-- checkout); test_clock is the mock provider's clock for that customer.
CREATE TABLE billing_customers (
    org_id        BIGINT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    customer_id   TEXT   NOT NULL UNIQUE,
    test_clock    TEXT,
    created_at_ms BIGINT NOT NULL
);

-- The latest known state of an organization's subscription. version is
-- the provider's counter: an event or answer carrying an older or equal
-- version never overwrites a newer one (webhooks arrive late, twice, out
-- of order, and now at any node): one INSERT … ON CONFLICT … DO UPDATE …
-- WHERE excluded.version > billing_subscriptions.version.
CREATE TABLE billing_subscriptions (
    org_id               BIGINT  PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    subscription_id      TEXT    NOT NULL UNIQUE,
    plan                 TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN
                         ('trialing', 'active', 'past_due', 'canceled', 'unpaid')),
    current_period_start BIGINT  NOT NULL,
    current_period_end   BIGINT  NOT NULL,
    trial_end            BIGINT,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT false,
    version              BIGINT  NOT NULL,
    updated_at_ms        BIGINT  NOT NULL
);

-- Invoices as the provider last described them (amounts in cents; lines
-- is the provider's JSON array of line items, kept as text), versioned
-- likewise.
CREATE TABLE billing_invoices (
    invoice_id    TEXT   PRIMARY KEY,
    org_id        BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    status        TEXT   NOT NULL CHECK (status IN
                  ('draft', 'open', 'paid', 'uncollectible', 'void')),
    total         BIGINT NOT NULL,
    amount_due    BIGINT NOT NULL,
    amount_paid   BIGINT NOT NULL,
    attempt_count BIGINT NOT NULL,
    created       BIGINT NOT NULL,
    lines         TEXT   NOT NULL,
    version       BIGINT NOT NULL
);
CREATE INDEX billing_invoices_by_org ON billing_invoices (org_id, created);

-- Webhook events already handled, by the provider's event id: a second
-- delivery of one (to any node) is acknowledged and ignored.
CREATE TABLE billing_events (
    event_id       TEXT   PRIMARY KEY,
    type           TEXT   NOT NULL,
    received_at_ms BIGINT NOT NULL
);
