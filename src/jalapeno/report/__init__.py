"""Presentation: terminal tables and number formatting shared by the commands."""
