"""HTTP glue: the resolver factory, problem+json rendering, the caller dependency and the routers."""
