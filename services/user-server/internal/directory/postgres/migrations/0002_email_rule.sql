-- The email rule of internal/directory (CheckEmail, the users file) in
-- the table: the same EmailPattern (TestEmailRuleMatchesContract holds this
-- copy to it) and the same bounds, in bytes. 0001's constraint was looser
-- ('<a>@b', 'a,b@c', a no-break space, 254 characters of two bytes). A
-- table that holds an address the new rule refuses fails this migration
-- (check constraint ... is violated by some row): fix those rows, then
-- migrate again.
ALTER TABLE users DROP CONSTRAINT users_email_valid;
ALTER TABLE users ADD CONSTRAINT users_email_valid CHECK (
    octet_length(email) <= 254
    AND octet_length(split_part(email, '@', 1)) <= 64
    AND email ~ '^[A-Za-z0-9!#$%&''*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$'
);
