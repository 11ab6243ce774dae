#!/bin/sh
# test_old_servers_full.sh - test_old_servers.sh with the full address as
# the login name on OLD (the harness gives Courier a second userdb entry and
# Cyrus virtdomains; the domains keep source_login = %u), and Cyrus's domain
# as default_domain, so that each server's users log in to NEW with the
# bare name in one of the two runs and with the full address in the other.
MM_COURIER_LOGIN=full MM_CYRUS_LOGIN=full MM_NEW_BARE=cyrus
export MM_COURIER_LOGIN MM_CYRUS_LOGIN MM_NEW_BARE
exec ${SHELL:-/bin/sh} "$top_srcdir/tests/integration/test_old_servers.sh"
