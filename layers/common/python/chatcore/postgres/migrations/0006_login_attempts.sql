-- Login throttling per (username, address) pair, per username and per address (chatcore/service/accounts.py).
-- Keys: 'pair:<address>|<folded username>', 'user:<folded username>', 'ip:<address>' ('user:' keys from 0002
-- keep their meaning: a lower-case ASCII username folds to itself). An attempt is counted before its password
-- is checked and forgiven when it was right; last_attempt spaces the attempts of a busy address.
ALTER TABLE login_failures ADD COLUMN last_attempt timestamptz;
COMMENT ON TABLE login_failures IS
    'Failed logins per throttling key in fixed windows: pair:<address>|<folded username>, user:<folded username>, ip:<address>';
