-- The user directory. The constraints are the API's own rules
-- (user.proto's user_id, internal/directory/file's name and email), so the table
-- cannot hold a user the API could not return.
CREATE TABLE users (
    id text PRIMARY KEY
        CONSTRAINT users_id_valid CHECK (char_length(id) BETWEEN 1 AND 64 AND id ~ '^[A-Za-z0-9._-]+$'),
    name text NOT NULL
        CONSTRAINT users_name_valid CHECK (name <> '' AND char_length(name) <= 256 AND name !~ '[[:cntrl:]]'),
    email text NOT NULL
        CONSTRAINT users_email_valid CHECK (email <> '' AND char_length(email) <= 254 AND email !~ '[[:cntrl:][:space:]]' AND email ~ '^[^@]+@[^@]+$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every change is announced on the channel users_changed with the id as
-- payload, so each replica drops that id from its cache. A truncate
-- announces an empty payload: drop everything.
CREATE FUNCTION users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('users_changed', '');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('users_changed', OLD.id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('users_changed', NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_row AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_notify();
CREATE TRIGGER users_notify_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION users_notify();
