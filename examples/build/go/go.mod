module example.com/sentinel/hello

go 1.22
