-- Edits, deletions (tombstones), replies, reactions, mentions, attachments and full-text search.

-- Every change to a message (created, edited, deleted, reacted to) takes the next revision, so a client
-- that was away asks for the changes after the last revision it saw (join's sinceRev).
CREATE SEQUENCE message_revisions;
ALTER TABLE messages
    ADD COLUMN rev bigint NOT NULL DEFAULT nextval('message_revisions'),
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN reply_to bigint REFERENCES messages (id) ON DELETE SET NULL,
    -- 'simple': no stemming and no stop words, so any language's words match (by prefix in queries).
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED;
CREATE INDEX messages_room_rev_idx ON messages (room_id, rev);
CREATE INDEX messages_search_idx ON messages USING gin (search);

CREATE TABLE message_reactions (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE message_mentions (
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user_idx ON message_mentions (user_id, message_id);

-- A file uploaded straight to S3 for a room; attached to a message when the message names it.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    room_id      bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id   bigint REFERENCES messages (id) ON DELETE CASCADE,
    name         text NOT NULL,
    size         bigint NOT NULL,
    content_type text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_idx ON attachments (message_id);
