from gradexplain.entry import main

main()
