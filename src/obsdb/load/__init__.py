"""Loading archives: find files, match them against the ledger, parse, COPY, account for every line."""
