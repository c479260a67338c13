from raydeploy.cli import main

main()
