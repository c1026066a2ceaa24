"""The shops' web pages: picking lists for a signed-in shop account or from the signed SMS link."""
