-- roles.sql - PostgreSQL roles for mailmigrate, least privilege per part.
--
-- Run as a superuser (or the database owner) in the database that holds
-- the store, AFTER `mailmigrate init` made the schema, and again after
-- an upgrade that adds tables:
--
--     psql -d mail -v ON_ERROR_STOP=1 -f roles.sql
--
-- Roles (LOGIN, no password set here: give each one with \password, or
-- use peer or certificate authentication in pg_hba.conf):
--   mailmigrate_admin   owns the schema: `mailmigrate init`, the CLI
--   mailmigrate_puller  mailmigrated on each puller host
--   mailmigrate_auth    the Dovecot auth module on each Dovecot host
--   mailmigrate_relay   mailmigrate-relay on each MX host: reads accounts
--                       and aliases; its one write is the late_mail
--                       counter (a column privilege)
-- `mailmigrate init` as mailmigrate_admin needs CREATE on the database
-- (granted below); the others never change the schema.

DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['mailmigrate_admin', 'mailmigrate_puller',
                           'mailmigrate_auth', 'mailmigrate_relay'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
  END LOOP;
  EXECUTE format('GRANT CREATE ON DATABASE %I TO mailmigrate_admin',
                 current_database());
END $$;

-- The schema and its tables belong to the administrator's role.
ALTER SCHEMA mailmigrate OWNER TO mailmigrate_admin;
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'mailmigrate' LOOP
    EXECUTE format('ALTER TABLE mailmigrate.%I OWNER TO mailmigrate_admin', t);
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA mailmigrate
  TO mailmigrate_puller, mailmigrate_auth, mailmigrate_relay;

-- The puller: the whole copy, but not the auth module's login limits.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  mailmigrate.meta, mailmigrate.accounts, mailmigrate.creds,
  mailmigrate.aliases, mailmigrate.proposals, mailmigrate.jobs,
  mailmigrate.folders, mailmigrate.msgmap, mailmigrate.uidls,
  mailmigrate.batches, mailmigrate.failed, mailmigrate.events,
  mailmigrate.tls_seen, mailmigrate.rate, mailmigrate.progress,
  mailmigrate.sieve, mailmigrate.split, mailmigrate.dav, mailmigrate.acl
  TO mailmigrate_puller;
GRANT USAGE ON SEQUENCE mailmigrate.jobs_id_seq TO mailmigrate_puller;

-- The auth module: first logins make an account, its sealed password
-- and its job; its rate limits and failed-login cache; the TLS memory.
GRANT SELECT, INSERT, UPDATE ON mailmigrate.meta, mailmigrate.accounts,
  mailmigrate.creds, mailmigrate.jobs TO mailmigrate_auth;
GRANT SELECT, INSERT, DELETE ON mailmigrate.aliases, mailmigrate.events
  TO mailmigrate_auth;
GRANT SELECT, DELETE ON mailmigrate.proposals TO mailmigrate_auth;
GRANT SELECT, INSERT ON mailmigrate.tls_seen TO mailmigrate_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON mailmigrate.auth_limits,
  mailmigrate.auth_fails TO mailmigrate_auth;
GRANT USAGE ON SEQUENCE mailmigrate.jobs_id_seq TO mailmigrate_auth;

-- The relay: reads; counts late mail.
GRANT SELECT ON mailmigrate.meta, mailmigrate.accounts, mailmigrate.aliases
  TO mailmigrate_relay;
GRANT UPDATE (late_mail) ON mailmigrate.accounts TO mailmigrate_relay;
