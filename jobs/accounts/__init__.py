"""Who is who and who may do what: API tokens, bearer-token lookup, write permissions."""
