-- Billing (issue 15): what agora knows of each organization's
-- subscription at the payment provider, learnt from the provider's API
-- answers and its signed webhooks (daemon/src/billing/). orgs.plan stays
-- the plan whose limits apply (free unless a subscription is trialing,
-- active or past_due); the provider is the source of truth for the rest.

-- A business plan's organization may name its own domain.
ALTER TABLE orgs ADD COLUMN custom_domain TEXT;

-- One customer at the provider per organization (made at the first
-- checkout); test_clock is the mock provider's clock for that customer.
CREATE TABLE billing_customers (
    org_id        INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    customer_id   TEXT    NOT NULL UNIQUE,
    test_clock    TEXT,
    created_at_ms INTEGER NOT NULL
) STRICT;

-- The latest known state of an organization's subscription. version is
-- the provider's per-subscription counter: an event or answer carrying an
-- older or equal version never overwrites a newer one (webhooks arrive
-- late, twice and out of order).
CREATE TABLE billing_subscriptions (
    org_id               INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    subscription_id      TEXT    NOT NULL UNIQUE,
    plan                 TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN
                         ('trialing', 'active', 'past_due', 'canceled', 'unpaid')),
    current_period_start INTEGER NOT NULL,
    current_period_end   INTEGER NOT NULL,
    trial_end            INTEGER,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
    version              INTEGER NOT NULL,
    updated_at_ms        INTEGER NOT NULL
) STRICT;

-- Invoices as the provider last described them (amounts in cents; lines
-- is the provider's JSON array of line items), versioned likewise.
CREATE TABLE billing_invoices (
    invoice_id    TEXT    PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    status        TEXT    NOT NULL CHECK (status IN
                  ('draft', 'open', 'paid', 'uncollectible', 'void')),
    total         INTEGER NOT NULL,
    amount_due    INTEGER NOT NULL,
    amount_paid   INTEGER NOT NULL,
    attempt_count INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    lines         TEXT    NOT NULL,
    version       INTEGER NOT NULL
) STRICT;
CREATE INDEX billing_invoices_by_org ON billing_invoices(org_id, created);

-- Webhook events already handled, by the provider's event id: a second
-- delivery of one is acknowledged and ignored.
CREATE TABLE billing_events (
    event_id       TEXT    PRIMARY KEY,
    type           TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
