"""Examples of slimtrain on user code: each module has model/student factories and a loaders function (README, "Examples")."""
