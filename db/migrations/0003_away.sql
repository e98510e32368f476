-- Chat: a user's away message belongs to the user, not to a connection:
-- it lasts until cleared, across disconnects and restarts (NULL: not away).
ALTER TABLE users ADD COLUMN away_message TEXT;
