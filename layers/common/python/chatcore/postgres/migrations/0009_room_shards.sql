-- A room's member count, kept by trigger, and the number of registry shards its connections are spread over.
--
-- The connection registry (DynamoDB) keeps a room's connections in `shards` partitions (room#<id>#<n>), so
-- no room is one hot partition and a large room's connections can be read shard by shard. A connection
-- goes to shard crc32(id) % shards; readers read every shard below `shards`. It is a power of two that
-- only ever grows (one shard per 2,000 members, at most 1,024), so a connection written under an older,
-- smaller count is still in a shard that readers read.
ALTER TABLE rooms
    ADD COLUMN member_count integer NOT NULL DEFAULT 0,
    ADD COLUMN shards integer NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 1024);

UPDATE rooms r SET member_count = (SELECT count(*) FROM room_members m WHERE m.room_id = r.id);

CREATE FUNCTION room_shards_for(members integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN members <= 2000 THEN 1
                ELSE least(1024, (2 ^ ceil(log(2, ceil(members / 2000.0)::numeric)))::integer) END
$$;

UPDATE rooms SET shards = room_shards_for(member_count);

CREATE FUNCTION count_room_members() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE rooms SET member_count = member_count + 1,
                         shards = greatest(shards, room_shards_for(member_count + 1))
         WHERE id = NEW.room_id;
    ELSE
        UPDATE rooms SET member_count = member_count - 1 WHERE id = OLD.room_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER room_members_count AFTER INSERT OR DELETE ON room_members
    FOR EACH ROW EXECUTE FUNCTION count_room_members();
