-- A nickname may not pass for another user's username: each nickname keeps its folded form, so
-- "is this name someone's nickname?" (at registration) is one indexed lookup. The application writes
-- nickname_key as chatcore.fields.fold_name(nickname): NFKC(casefold(NFKC(name))) without U+200C/U+200D.
ALTER TABLE users ADD COLUMN nickname_key text;

-- Backfill. SQL has no casefold: lower() of the NFKC form with the two characters whose case folding
-- differs from lower-casing on the way to ASCII (U+00DF and U+1E9E fold to "ss") spelt out. That is exact
-- for every nickname whose folded form is ASCII, the only ones that can equal a username (usernames are
-- ASCII); any other nickname gets its exact key from the application the next time it changes.
UPDATE users
SET nickname_key = normalize(
    replace(replace(replace(replace(lower(normalize(nickname, NFKC)),
        U&'\00DF', 'ss'), U&'\1E9E', 'ss'), U&'\200C', ''), U&'\200D', ''),
    NFKC)
WHERE nickname IS NOT NULL;

-- Nicknames that already pass for another user's username are cleared (their owners choose another one):
-- with both shown as "alice", the chat could not tell the user alice from someone nicknamed so.
UPDATE users AS u
SET nickname = NULL, nickname_key = NULL
WHERE u.nickname_key IS NOT NULL
  AND EXISTS (SELECT 1 FROM users AS o WHERE o.id <> u.id AND lower(o.username) = u.nickname_key);

CREATE INDEX users_nickname_key_idx ON users (nickname_key);
