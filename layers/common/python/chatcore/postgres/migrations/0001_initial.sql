-- Users, groups (rooms), memberships, messages and tags.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    email         text,
    password_hash text NOT NULL,
    nickname      text,
    avatar        text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    private    boolean NOT NULL DEFAULT false,
    kind       text NOT NULL DEFAULT 'group' CHECK (kind IN ('group', 'direct')),
    -- "<smaller user id>:<larger user id>" for a 1:1 chat, so each pair has exactly one room.
    direct_key text UNIQUE,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

CREATE TABLE group_members (
    user_id              bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id             bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role                 text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
    joined_at            timestamptz NOT NULL DEFAULT now(),
    last_read_message_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_members_group_idx ON group_members (group_id);

CREATE TABLE messages (
    id            bigserial PRIMARY KEY,
    group_id      bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content       text NOT NULL,
    client_msg_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, client_msg_id)
);
-- History pages and catch-up read a room's messages by id.
CREATE INDEX messages_group_id_idx ON messages (group_id, id);

CREATE TABLE user_tags (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag_name   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, tag_name)
);
CREATE INDEX user_tags_tag_idx ON user_tags (tag_name);
