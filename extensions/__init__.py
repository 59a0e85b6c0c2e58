"""Built-in extensions.

Each built-in is a folder here with a ``symphony-extension.toml`` manifest and is loaded through
the same path as third-party extensions (entry-point group ``symphony.extensions``); nothing
special-cases them. The first ones arrive with the Orchestra Kit.
"""
