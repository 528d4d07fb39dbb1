-- One word for one thing: a room is any conversation, of kind 'group' or 'direct'.
ALTER TABLE groups RENAME TO rooms;
ALTER SEQUENCE groups_id_seq RENAME TO rooms_id_seq;
ALTER TABLE rooms RENAME CONSTRAINT groups_pkey TO rooms_pkey;
ALTER TABLE rooms RENAME CONSTRAINT groups_direct_key_key TO rooms_direct_key_key;
ALTER TABLE rooms RENAME CONSTRAINT groups_created_by_fkey TO rooms_created_by_fkey;
ALTER TABLE rooms RENAME CONSTRAINT groups_kind_check TO rooms_kind_check;
ALTER TABLE rooms RENAME CONSTRAINT groups_check TO rooms_direct_key_check;

ALTER TABLE group_members RENAME TO room_members;
ALTER TABLE room_members RENAME COLUMN group_id TO room_id;
ALTER TABLE room_members RENAME CONSTRAINT group_members_pkey TO room_members_pkey;
ALTER TABLE room_members RENAME CONSTRAINT group_members_user_id_fkey TO room_members_user_id_fkey;
ALTER TABLE room_members RENAME CONSTRAINT group_members_group_id_fkey TO room_members_room_id_fkey;
ALTER TABLE room_members RENAME CONSTRAINT group_members_role_check TO room_members_role_check;
ALTER INDEX group_members_group_idx RENAME TO room_members_room_idx;

ALTER TABLE messages RENAME COLUMN group_id TO room_id;
ALTER TABLE messages RENAME CONSTRAINT messages_group_id_fkey TO messages_room_id_fkey;
ALTER INDEX messages_group_id_idx RENAME TO messages_room_id_idx;
