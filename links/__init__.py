"""Links between a LINE account and a resident, family member, shop or driver, by one-time code."""
