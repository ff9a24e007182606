module reingoclient

go 1.19
