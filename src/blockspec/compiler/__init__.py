"""The compiler: text -> AST -> IR -> validated, typed IR -> runtime modules."""
