"""The offline replay: a faithful local copy of every outlet, served on 127.0.0.1."""
