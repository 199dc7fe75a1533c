"""Money: the ledger, balances, exchange rates and prices."""
