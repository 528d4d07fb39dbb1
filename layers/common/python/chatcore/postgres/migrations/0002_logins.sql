-- Usernames are unique whatever their letter case ("Alice" cannot pose next to "alice").
CREATE UNIQUE INDEX users_username_lower_idx ON users (lower(username));

-- Failed logins per username and per source address, in fixed windows, for login throttling.
CREATE TABLE login_failures (
    key          text PRIMARY KEY,  -- 'user:<lower-case username>' or 'ip:<address>'
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL
);
