"""What people did with regcite: answer records, review decisions and users, in a hash chain of records."""
