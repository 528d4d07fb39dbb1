-- The conversations list (the first request of every page load) as a function, so its plan is cached.
--
-- The functions never prepare statements: RDS Proxy pins a client to one database connection for the rest of
-- its session once it prepares one, which ends the proxy's multiplexing. Without a cache, PostgreSQL plans this
-- query -- three subqueries and four joins -- on every call, which is most of what the request costs. PL/pgSQL
-- caches the plans of the statements it runs, per database connection, with no protocol-level prepared
-- statement, so nothing pins. The generic plan is forced because the arguments never change its shape (one
-- user's memberships through the primary key, rows capped by the limit): no five custom plans first.
CREATE FUNCTION conversations_page(p_user bigint, p_after_last bigint, p_after_id bigint, p_limit integer)
    RETURNS TABLE (
        id bigint, kind text, name text, private boolean, description text,
        other_id bigint, other_username text, other_nickname text,
        unread integer, last_message_id bigint, last_sender text, last_text text, last_at timestamptz,
        mentions integer, last_deleted boolean
    )
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- Rooms by latest activity (then newest room), after (p_after_last, p_after_id) when p_after_last is set;
    -- unread and mention counts are capped at 100 (what the list shows as "99+").
    RETURN QUERY
    SELECT c.id, c.kind, c.name, c.private, c.description,
           o.id, o.username, o.nickname,
           c.unread, last.id, sender.username,
           left(last.content, 140), last.created_at, c.mentions,
           coalesce(last.deleted_at IS NOT NULL, false)
    FROM (
        SELECT r.id, r.kind, r.name, r.private, r.description,
               (SELECT count(*) FROM (SELECT 1 FROM messages m
                 WHERE m.room_id = r.id AND m.id > me.last_read_message_id AND m.user_id <> p_user
                   AND m.deleted_at IS NULL
                 LIMIT 100) unread_capped)::int AS unread,
               (SELECT count(*) FROM (SELECT 1 FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
                 WHERE mm.user_id = p_user AND mm.message_id > me.last_read_message_id AND m.room_id = r.id
                   AND m.deleted_at IS NULL
                 LIMIT 100) mentions_capped)::int AS mentions,
               (SELECT max(m.id) FROM messages m WHERE m.room_id = r.id) AS last_id
        FROM room_members me JOIN rooms r ON r.id = me.room_id
        WHERE me.user_id = p_user
    ) c
    LEFT JOIN messages last ON last.id = c.last_id
    LEFT JOIN users sender ON sender.id = last.user_id
    LEFT JOIN room_members om ON c.kind = 'direct' AND om.room_id = c.id AND om.user_id <> p_user
    LEFT JOIN users o ON o.id = om.user_id
    WHERE p_after_last IS NULL OR (coalesce(c.last_id, 0), c.id) < (p_after_last, p_after_id)
    ORDER BY coalesce(c.last_id, 0) DESC, c.id DESC
    LIMIT p_limit;
END
$$;

-- Functions are executable by PUBLIC by default; only the application calls this one.
REVOKE ALL ON FUNCTION conversations_page(bigint, bigint, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION conversations_page(bigint, bigint, bigint, integer) TO chat_app;
