"""Looking at a result: histogram statistics (``stats``), densities (``density``), the data of
the before/after panels (``panel``) and their matplotlib figures (``plot``).
"""
