"""Money as the protocol shows it: Decimal with 5 decimal places ("0.27819")."""

# Keyword arguments of every money DecimalField (balances, charges, costs, rates).
MONEY = {"max_digits": 18, "decimal_places": 5}
