// Command hello is gobuild's test command.
package main

import "fmt"

func main() { fmt.Println("hello") }
