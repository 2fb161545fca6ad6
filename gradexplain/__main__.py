from gradexplain.cli import main

main()
