pytest_plugins = ["librarrarian_testing.fixtures"]
