from obsdb.cli import main

main()
