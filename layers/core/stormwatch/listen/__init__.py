"""Listen flow: turning raw mentions into language, sentiment and brand matches."""
