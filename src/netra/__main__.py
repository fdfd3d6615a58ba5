from netra.cli import main

main()
