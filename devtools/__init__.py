"""Tools for the people who work on CNN Explorer (not shipped in the wheel): the README's screenshots."""
