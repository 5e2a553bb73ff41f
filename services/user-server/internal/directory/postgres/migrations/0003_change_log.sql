-- Change notification per transaction, not per row (0001 notified every
-- row, so a bulk change queued a million notifications that every replica
-- applied one by one).
--
-- users_changes is a log of the ids whose returned fields (id, name,
-- email) changed, in commit order: a replica remembers the last seq it
-- applied and, on each notification or after reconnecting, reads what
-- follows. A statement that changes more than 1000 users logs one row with
-- a NULL id instead ("anything may have changed": replicas empty their
-- caches), and so does TRUNCATE. Updates that change no returned field
-- (updated_at only, or the same values) log and notify nothing.
--
-- Commit order: seq is drawn under a transaction-scoped advisory lock held
-- until commit, so a later seq is never visible before an earlier one and
-- a reader of "seq > last" never skips a change. Writers of users are thus
-- serialised from their first change to their commit; keep transactions
-- that write users short. Writers need INSERT on users_changes.
CREATE TABLE users_changes (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text, -- NULL: any user may have changed
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- Replicas prune the log (entries older than a day); through is the
-- newest seq pruned, so a replica that was away longer empties its cache.
CREATE TABLE users_changes_pruned (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    through bigint NOT NULL
);
INSERT INTO users_changes_pruned (through) VALUES (0);

CREATE FUNCTION users_log_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bound constant integer := 1000;
    ids text[];
BEGIN
    -- Each branch names only the transition tables its trigger has.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM new_rows LIMIT bound + 1) s;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM old_rows LIMIT bound + 1) s;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(id) INTO ids FROM (
            SELECT coalesce(o.id, n.id) AS id
            FROM old_rows o FULL JOIN new_rows n ON o.id = n.id
            WHERE o.id IS NULL OR n.id IS NULL OR (o.name, o.email) IS DISTINCT FROM (n.name, n.email)
            LIMIT bound + 1) s;
    END IF;
    IF TG_OP <> 'TRUNCATE' AND ids IS NULL THEN
        RETURN NULL; -- nothing a lookup returns changed
    END IF;
    PERFORM pg_advisory_xact_lock(8463219665822052199); -- 'user-log'
    IF TG_OP = 'TRUNCATE' OR cardinality(ids) > bound THEN
        INSERT INTO users_changes (id) VALUES (NULL);
    ELSE
        INSERT INTO users_changes (id) SELECT unnest(ids);
    END IF;
    -- One notification per transaction: PostgreSQL folds identical ones.
    -- The payload is empty, which replicas of schema version 2 and older
    -- read as "drop everything": correct, if slower, during an upgrade.
    PERFORM pg_notify('users_changed', '');
    RETURN NULL;
END
$$;

DROP TRIGGER users_notify_row ON users;
DROP TRIGGER users_notify_truncate ON users;
DROP FUNCTION users_notify();

CREATE TRIGGER users_log_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION users_log_changes();
CREATE TRIGGER users_log_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION users_log_changes();
CREATE TRIGGER users_log_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION users_log_changes();
CREATE TRIGGER users_log_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION users_log_changes();
