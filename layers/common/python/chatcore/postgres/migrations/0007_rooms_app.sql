-- A group's description, set by its owner.
ALTER TABLE rooms ADD COLUMN description text NOT NULL DEFAULT '';

-- Members the owner removed from a group: they may not join it back on their own (the owner may add them).
CREATE TABLE room_bans (
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
